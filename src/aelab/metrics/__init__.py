"""Maths and drawing shared by models, callbacks and evaluation tasks: no tasks here."""
