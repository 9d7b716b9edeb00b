"""Hearth's OpenAI-compatible HTTP API (FastAPI on uvicorn), over the same engines and jobs as the app.

    runtime = Runtime(Scheduler(), Engines(settings), settings)      # inside the app: its scheduler and engines
    server = ServerThread(runtime, host="127.0.0.1", port=8765)      # serve.py
    server.start()  …  server.stop()

Modules: serve.py (uvicorn in a thread, the API key, which addresses may be used), app.py (the FastAPI app:
routes and the guard middleware — bearer key, body size limit, CORS, request counts), runtime.py (jobs submitted
to the shared Scheduler, their partials as an async stream, cancelled when the client goes), models.py (installed
models by id), chat.py (chat and text completions), media.py (embeddings and images), errors.py (OpenAI's error
JSON). FastAPI, uvicorn and sse-starlette are imported only when a server starts.
"""
