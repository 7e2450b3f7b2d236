"""The i2i studio's page parts: app.py lays out the page; these modules hold what it wires up.

state (settings from the environment, the model store, the training job), model_calls (the
only code that runs a network), errors (library errors as UI messages), inputs (reading what a
user or API caller sent), outputs (images as files to serve), draw_tab and train_tab (the
tabs' handlers), api (the public endpoints), page (the page's JavaScript and CSS).
"""
