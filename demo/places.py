"""Where demo borrowers are registered and live: cities with their districts (the first six digits
of a national ID), phone area codes and mobile prefixes, streets, and the relatives and friends
they give as contacts."""

from dataclasses import dataclass

from loans.models import Contact

SHANGHAI = "Asia/Shanghai"
URUMQI = "Asia/Urumqi"


@dataclass(frozen=True)
class City:
    province: str
    name: str
    phone_area: str  # long-distance code without the trunk 0
    phone_digits: int  # digits of a local fixed-line number there (as libphonenumber knows it)
    weight: int  # how many borrowers live there, roughly
    districts: tuple[tuple[str, str], ...]  # (administrative division code, district name)


CITIES = (
    City(
        "北京市",
        "北京市",
        "10",
        8,
        9,
        (("110101", "东城区"), ("110102", "西城区"), ("110105", "朝阳区"), ("110106", "丰台区"), ("110108", "海淀区")),
    ),
    City(
        "上海市",
        "上海市",
        "21",
        8,
        9,
        (
            ("310101", "黄浦区"),
            ("310104", "徐汇区"),
            ("310105", "长宁区"),
            ("310110", "杨浦区"),
            ("310115", "浦东新区"),
        ),
    ),
    City("天津市", "天津市", "22", 8, 4, (("120101", "和平区"), ("120103", "河西区"))),
    City("重庆市", "重庆市", "23", 8, 6, (("500103", "渝中区"), ("500105", "江北区"), ("500106", "沙坪坝区"))),
    City(
        "广东省",
        "广州市",
        "20",
        8,
        8,
        (("440103", "荔湾区"), ("440104", "越秀区"), ("440105", "海珠区"), ("440106", "天河区")),
    ),
    City(
        "广东省",
        "深圳市",
        "755",
        8,
        8,
        (("440303", "罗湖区"), ("440304", "福田区"), ("440305", "南山区"), ("440306", "宝安区")),
    ),
    City("广东省", "东莞市", "769", 8, 4, (("441900", "南城街道"),)),
    City("广东省", "佛山市", "757", 8, 4, (("440604", "禅城区"), ("440606", "顺德区"))),
    City("浙江省", "杭州市", "571", 8, 6, (("330102", "上城区"), ("330106", "西湖区"), ("330108", "滨江区"))),
    City("浙江省", "宁波市", "574", 8, 3, (("330203", "海曙区"), ("330212", "鄞州区"))),
    City("江苏省", "南京市", "25", 8, 5, (("320102", "玄武区"), ("320106", "鼓楼区"))),
    City("江苏省", "苏州市", "512", 8, 5, (("320505", "虎丘区"), ("320506", "吴中区"))),
    City("江苏省", "无锡市", "510", 8, 3, (("320213", "梁溪区"),)),
    City("四川省", "成都市", "28", 8, 7, (("510104", "锦江区"), ("510105", "青羊区"), ("510107", "武侯区"))),
    City("湖北省", "武汉市", "27", 8, 6, (("420102", "江岸区"), ("420106", "武昌区"), ("420111", "洪山区"))),
    City("湖南省", "长沙市", "731", 8, 4, (("430102", "芙蓉区"), ("430104", "岳麓区"))),
    City("河南省", "郑州市", "371", 8, 5, (("410102", "中原区"), ("410105", "金水区"))),
    City("山东省", "济南市", "531", 8, 3, (("370102", "历下区"), ("370103", "市中区"))),
    City("山东省", "青岛市", "532", 8, 3, (("370202", "市南区"), ("370212", "崂山区"))),
    City("福建省", "福州市", "591", 8, 3, (("350102", "鼓楼区"),)),
    City("福建省", "厦门市", "592", 7, 3, (("350203", "思明区"), ("350206", "湖里区"))),
    City("陕西省", "西安市", "29", 8, 4, (("610102", "新城区"), ("610113", "雁塔区"))),
    City("河北省", "石家庄市", "311", 8, 3, (("130102", "长安区"), ("130104", "桥西区"))),
    City("安徽省", "合肥市", "551", 8, 3, (("340102", "瑶海区"), ("340104", "蜀山区"))),
    City("江西省", "南昌市", "791", 8, 2, (("360102", "东湖区"),)),
    City("辽宁省", "沈阳市", "24", 8, 3, (("210102", "和平区"), ("210103", "沈河区"))),
    City("吉林省", "长春市", "431", 8, 2, (("220102", "南关区"),)),
    City("黑龙江省", "哈尔滨市", "451", 8, 2, (("230102", "道里区"),)),
    City("云南省", "昆明市", "871", 8, 2, (("530102", "五华区"),)),
    City("广西壮族自治区", "南宁市", "771", 7, 2, (("450102", "兴宁区"),)),
    City("贵州省", "贵阳市", "851", 8, 2, (("520102", "南明区"),)),
    City("山西省", "太原市", "351", 7, 2, (("140105", "小店区"),)),
    City("内蒙古自治区", "呼和浩特市", "471", 7, 1, (("150102", "新城区"),)),
    City("新疆维吾尔自治区", "乌鲁木齐市", "991", 7, 1, (("650102", "天山区"),)),
    City("甘肃省", "兰州市", "931", 7, 1, (("620102", "城关区"),)),
    City("海南省", "海口市", "898", 8, 1, (("460105", "秀英区"), ("460106", "龙华区"))),
    City("宁夏回族自治区", "银川市", "951", 7, 1, (("640104", "兴庆区"),)),
    City("青海省", "西宁市", "971", 7, 1, (("630102", "城东区"),)),
    City("西藏自治区", "拉萨市", "891", 7, 1, (("540102", "城关区"),)),
)

# (city, district code, district name) for every district: the place part of a national ID.
REGISTRATION_AREAS = tuple((city, code, name) for city in CITIES for code, name in city.districts)

# Mobile prefixes of the three carriers in everyday use; libphonenumber accepts any eight digits after them.
MOBILE_PREFIXES = (
    "134",
    "135",
    "136",
    "137",
    "138",
    "139",
    "147",
    "150",
    "151",
    "152",
    "157",
    "158",
    "159",
    "172",
    "178",
    "182",
    "183",
    "184",
    "187",
    "188",
    "198",  # China Mobile
    "130",
    "131",
    "132",
    "145",
    "155",
    "156",
    "166",
    "175",
    "176",
    "185",
    "186",
    "196",  # China Unicom
    "133",
    "153",
    "173",
    "177",
    "180",
    "181",
    "189",
    "190",
    "191",
    "193",
    "199",  # China Telecom
)

STREETS = (
    "人民路",
    "中山路",
    "解放路",
    "建设路",
    "和平路",
    "新华路",
    "长江路",
    "黄河路",
    "文化路",
    "胜利路",
    "朝阳路",
    "青年路",
    "光明路",
    "东风路",
    "幸福路",
    "健康路",
    "学院路",
    "工业路",
    "科技路",
    "滨江路",
    "南京路",
    "北京路",
    "延安路",
    "复兴路",
    "团结路",
    "民主路",
    "花园路",
    "振兴路",
    "金桥路",
    "世纪大道",
    "迎宾大道",
    "府前街",
)

RELATIVES = (
    # relation, kind, same surname as the borrower, sex of the relative (None: either)
    ("配偶", Contact.Kind.EMERGENCY.value, False, None),
    ("父亲", Contact.Kind.EMERGENCY.value, True, "M"),
    ("母亲", Contact.Kind.EMERGENCY.value, False, "F"),
    ("兄弟", Contact.Kind.EMERGENCY.value, True, "M"),
    ("姐妹", Contact.Kind.EMERGENCY.value, True, "F"),
    ("子女", Contact.Kind.EMERGENCY.value, True, None),
    ("朋友", Contact.Kind.OTHER.value, False, None),
    ("同事", Contact.Kind.OTHER.value, False, None),
)
RELATIVE_WEIGHTS = (30, 22, 18, 9, 8, 5, 5, 3)
