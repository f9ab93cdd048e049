from gitint import create_app

app = create_app()
