"""Task lifecycle: the state machine, the repository and the scheduler that runs engines."""
