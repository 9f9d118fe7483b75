"""Data shipped with ccvae-explorer (the embedded digits and the default run), as package data so that a wheel
carries it. Find the files through ``core.assets``; nothing here is meant to be imported."""
