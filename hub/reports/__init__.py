"""The monthly reports: figures in SQL (:mod:`hub.reports.monthly`), files for courts (:mod:`hub.reports.render`)."""
