"""Hallmark's web face: the JSON API and the server-rendered pages (DESIGN.md, Architecture).

``app.create_app(settings)`` builds the application. ``api/`` holds the routes under
``/api/v1`` (bearer tokens), ``pages/`` the HTML pages (browser sessions, CSRF-checked forms);
both call the services and leave turning errors into answers to ``errors``, the one place
that does it.
"""
