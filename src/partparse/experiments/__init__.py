"""The report's experiments, built on the parser: ablation rows over cached stages, video-level
evaluation, fusion-weight search and oracle submissions. Nothing in the parser imports them."""
