"""The expression language (pure): sandboxed expressions and templates compiled to Python
closures, their functions, detectors and run-time support."""
