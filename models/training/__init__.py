"""Recipes that (re)build the project's own models: offline bootstrap, ultralytics training, ONNX export.

Needs the `train` extra (ultralytics, torch, onnx); nothing here is imported on the runtime path.
"""
