"""Code that runs inside the Rasa server (rasa env): custom stores and components."""
