"""The pack's output formats (HTML, PDF, PNG, XLSX) and its charts, all read from one built report."""
