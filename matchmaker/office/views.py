from flask import Blueprint

blueprint = Blueprint("office", __name__)
