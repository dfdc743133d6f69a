"""Real-time avatar sessions: the REST side and the worker that joins the LiveKit room as the avatar."""
