from flask import Blueprint

blueprint = Blueprint("enterprises", __name__)
