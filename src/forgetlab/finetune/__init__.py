"""Fine-tuning lab: make base/fine-tuned pairs and watch forgetting happen (docs/finetuning.md)."""
