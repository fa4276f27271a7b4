"""The PostgREST dialect at `/rest/<service>/`: a second front door onto the same pipeline.

request.py reads the dialect's URL and headers (stage 1), pipeline.py runs the shared stages
with the dialect's parser (services/plan/pgrst_parse.py), respond.py and errors.py answer in
PostgREST's shapes; views.py is the entry the middleware calls.
"""
