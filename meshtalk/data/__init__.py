"""Datasets: the FaceFormer layout (VOCASET, BIWI, Multiface), the unregistered layout, and the synthetic corpus."""
