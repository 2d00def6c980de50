"""Demo radiographs for the UI, made at run time: FracAtlas test images picked by rule, or synthetic ones."""
