//! Datasets: Alpaca JSON/JSONL, synthetic arithmetic, prompt templates, tokenized examples.
