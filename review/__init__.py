"""SynthWatch review: the Flask app analysts triage cases in, and the weekly digest."""
