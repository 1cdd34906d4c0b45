from matchmaker.reference import codes


def test_reference_data_loaded(app):
    assert codes.region("330502").full_name == "浙江省湖州市吴兴区"
    assert codes.category("4.1.4") is not None
    assert codes.industry("38").parent_code == "C"


def test_enterprise_factory(make):
    enterprise, account = make.enterprise()
    assert enterprise.id and account.user.role == "enterprise"
