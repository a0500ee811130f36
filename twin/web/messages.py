"""The message catalogue (design decision 10): every UI label, Simplified Chinese first, English second.

>>> t("name"), t("name", "en")
('名称', 'Name')
"""
from __future__ import annotations

LANGUAGES = ("zh", "en")

MESSAGES: dict[str, dict[str, str]] = {
    "zh": {
        "home_view": "初始视角",
        "info_title": "对象信息",
        "info_empty": "点击三维视图中的对象查看信息。",
        "name": "名称",
        "kind": "类型",
        "ifc_class": "IFC 类",
        "long_name": "全称",
        "path": "位置",
        "id": "标识",
        "properties": "属性集",
        "no_properties": "无属性集。",
        "loading": "正在加载几何",
        "load_failed": "几何加载失败",
        "north": "北",
        "kind.park": "园区", "kind.site": "场地", "kind.building": "建筑", "kind.storey": "楼层",
        "kind.space": "空间", "kind.element": "构件", "kind.device": "设备", "kind.pipe": "管线",
        "kind.network_node": "管网节点", "kind.road": "道路", "kind.path": "步道", "kind.parking": "停车场",
        "kind.parking_space": "车位", "kind.green": "绿地", "kind.water": "水体", "kind.boundary": "园区边界",
        "kind.gate": "出入口", "kind.assembly_point": "应急集合点",
    },
    "en": {
        "home_view": "Home view",
        "info_title": "Object info",
        "info_empty": "Click an object in the 3D view to see its details.",
        "name": "Name",
        "kind": "Kind",
        "ifc_class": "IFC class",
        "long_name": "Long name",
        "path": "Location",
        "id": "Id",
        "properties": "Property sets",
        "no_properties": "No property sets.",
        "loading": "Loading geometry",
        "load_failed": "Geometry failed to load",
        "north": "N",
        "kind.park": "Park", "kind.site": "Site", "kind.building": "Building", "kind.storey": "Storey",
        "kind.space": "Space", "kind.element": "Element", "kind.device": "Device", "kind.pipe": "Pipe",
        "kind.network_node": "Network node", "kind.road": "Road", "kind.path": "Path", "kind.parking": "Car park",
        "kind.parking_space": "Parking space", "kind.green": "Green", "kind.water": "Water", "kind.boundary": "Boundary",
        "kind.gate": "Gate", "kind.assembly_point": "Assembly point",
    },
}


def t(key: str, lang: str = LANGUAGES[0]) -> str:
    """The label for ``key`` in ``lang``, falling back to the other language, then to the key."""
    for code in (lang, *LANGUAGES):
        if key in MESSAGES.get(code, {}):
            return MESSAGES[code][key]
    return key
