from flask import Blueprint

blueprint = Blueprint("banks", __name__)
