"""Models: the LSTM backends, the AWD-LSTM dropouts, the language model and the classifier."""

from ulmlite.nn.awd_lstm import (
    AWDLSTMConfig,
    AWDLSTMEncoder,
    LanguageModel,
    LinearDecoder,
    ar_tar_loss,
    language_model_loss,
)
from ulmlite.nn.classifier import MultiBatchEncoder, PoolingLinearClassifier, TextClassifier, masked_concat_pool
from ulmlite.nn.dropout import EmbeddingDropout, LockedDropout, WeightDrop
from ulmlite.nn.lstm import LSTM, lstm_cell_python, lstm_layer_python

__all__ = [
    "AWDLSTMConfig", "AWDLSTMEncoder", "EmbeddingDropout", "LSTM", "LanguageModel", "LinearDecoder",
    "LockedDropout", "MultiBatchEncoder", "PoolingLinearClassifier", "TextClassifier", "WeightDrop",
    "ar_tar_loss", "language_model_loss", "lstm_cell_python", "lstm_layer_python", "masked_concat_pool",
]
