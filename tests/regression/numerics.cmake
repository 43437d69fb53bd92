# CLI regression cases of `dssim numerics` (label: regression).
