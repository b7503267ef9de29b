"""Tests of datakit.orchestrate."""
