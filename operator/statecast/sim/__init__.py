"""Trace-driven simulator and placement-policy benchmark."""
