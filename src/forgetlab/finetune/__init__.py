"""Fine-tuning lab: make base/fine-tuned pairs and watch forgetting happen (SPEC §5-§7)."""
