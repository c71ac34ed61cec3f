"""Stage 1-2, the classifier: training data and augmentation, ResNet-18 training, inference, evaluation, baselines, pooling, ONNX export."""
