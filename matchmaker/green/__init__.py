"""Green intelligence: what 重庆 长江绿融通 calls intelligent identification of green projects and
environmental-benefit measurement, and what 湖州's 绿色化 assessment does.

* `classifier`: suggests 2019 catalog items for a project description (keywords + jieba tokens).
* `flags`: consistency (洗绿 / 漂绿 risk) flags shown to banks and the finance office beside a need.
* `benefit`: standard coal saved and CO2 reduced for common project types, from one table of
  documented coefficients, and the bank's share by the 2013 guide.
* `catalog2024`: the 2024 catalog's top level and the mapping of 2019 codes onto it (reports).

Everything here is pure Python over files the package ships (`data/`), loaded once per process.
"""
