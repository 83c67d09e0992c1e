"""The synthetic talking-face corpus: speech with exact phone timelines, articulation, heads, scans."""
