"""Publishing: the daily briefing page and its CSV attachments, the exports' safe CSV writing, and who
may read what (the warehouse's roles and logins). A stage: reads the base, never the pipeline or the CLI."""
