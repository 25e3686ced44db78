"""Signals, flags and the nightly run: every signal and flag rule, its threshold and label.

The nightly rupture-resolution summaries: load a chunk, summarise, flag, roll up, digest.

Everything here is set-based: a chunk of a few hundred couples is read in a fixed number of
queries and written with bulk upserts, never a query or a task per couple.
"""
