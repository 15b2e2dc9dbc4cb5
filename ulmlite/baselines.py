"""The bag-of-n-grams baselines ULMFiT is measured against, on the same splits (scikit-learn)."""

import numpy as np


def tfidf_logistic_regression(train, test) -> float:
    """The baseline: TF-IDF of word 1-2-grams + logistic regression (scikit-learn)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    x_train = vectorizer.fit_transform(train.docs)
    classifier = LogisticRegression(C=4.0, max_iter=2000).fit(x_train, train.labels)
    return float((classifier.predict(vectorizer.transform(test.docs)) == test.labels).mean())


def nbsvm_bigrams(train, test) -> float:
    """NBSVM-bi (Wang & Manning 2012): binarized word 1-2-grams scaled by the naive-Bayes log-count
    ratio, then a linear classifier (logistic regression here, in place of their SVM)."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = CountVectorizer(ngram_range=(1, 2), binary=True, min_df=2)
    x = vectorizer.fit_transform(train.docs)
    y = np.asarray(train.labels)
    p = np.asarray(x[y == 1].sum(0)).ravel() + 1.0
    q = np.asarray(x[y == 0].sum(0)).ravel() + 1.0
    r = np.log((p / p.sum()) / (q / q.sum()))
    model = LogisticRegression(C=0.1, max_iter=3000).fit(x.multiply(r).tocsr(), y)
    predictions = model.predict(vectorizer.transform(test.docs).multiply(r).tocsr())
    return float((predictions == np.asarray(test.labels)).mean())
