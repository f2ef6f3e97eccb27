"""`make demo`: the story of the seeds through the real service, as a picture and a page."""
