"""Vision: the TFLite runtime, the image policy and the ResNet50 embedder."""
