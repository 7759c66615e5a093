"""Leaf utilities every layer may use: durations, calendar periods, cron slots, time
zones and "did you mean" suggestions.  They import nothing else of engage_rules."""
