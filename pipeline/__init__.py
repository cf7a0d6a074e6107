"""pipeline: the posemoe application (command line, video in, poses out). Depends on posemoe."""
