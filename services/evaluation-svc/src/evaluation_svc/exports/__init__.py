"""CSV, XLSX and PDF answers of the report routes (negotiated with `Accept`, see pledge_common.exports)."""
