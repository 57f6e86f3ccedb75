"""Reports of a verification: a terminal table and Markdown (fits $GITHUB_STEP_SUMMARY)."""
