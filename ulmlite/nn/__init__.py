"""Models: the LSTM backends, the AWD-LSTM dropouts, the language model and the classifier."""
