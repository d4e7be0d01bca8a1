"""The OData v4 feed (read-only) of the metrics service: every result table a BI tool
needs, at one static root (``/odata/v4/``), for Power BI's ``OData.Feed``, Tableau's OData
connector and Excel."""
