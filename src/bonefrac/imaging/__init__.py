"""Image input: any supported file -> RGB pixels + metadata; boxes drawn on images."""
