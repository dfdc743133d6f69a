"""The HTTP surface: one router per resource; auth and errors as dependencies and handlers."""
