"""The baseline: a plain Django REST framework API over bench_orders, as a Django developer
would write it (ModelViewSet + ModelSerializer over an unmanaged model)."""
