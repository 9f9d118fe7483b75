"""ccvae-explorer core: training and inference for Characteristic Capturing VAEs. Never imports Qt."""
