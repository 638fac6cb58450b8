"""A generated false-barge-in corpus (deterministic from a seed) and its offline evaluation of the
barge-in detectors, among them the one the figures chose and the media-controller runs
(`media_controller.barge_in`)."""
