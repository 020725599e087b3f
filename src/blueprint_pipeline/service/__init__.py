"""The generation service: an HTTP API that accepts scenes, runs the pipeline on them as jobs
in separate processes, and serves the resulting datasets (`blueprint serve`).

Import `blueprint_pipeline.service.app.create_app` or `.server.serve`; this package's own import
stays light so the client can share its archive checks without loading the web stack.
"""
