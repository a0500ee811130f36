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
        "code": "编码",
        "type_name": "型号",
        "position": "坐标 (WGS84)",
        "lat.N": "北纬 {deg}°", "lat.S": "南纬 {deg}°", "lon.E": "东经 {deg}°", "lon.W": "西经 {deg}°",
        "height": "高程 {m} m",
        "loading": "正在加载几何",
        "load_failed": "几何加载失败",
        "north": "北",
        "tour.title": "导览", "tour.choose": "选择导览", "tour.play": "播放", "tour.pause": "暂停",
        "tour.next": "下一站", "tour.loop": "循环播放", "tour.none": "此园区没有导览。",
        "tour.stop_of": "第 {n}/{total} 站",
        "kind.park": "园区", "kind.site": "场地", "kind.building": "建筑", "kind.storey": "楼层",
        "kind.space": "空间", "kind.element": "构件", "kind.device": "设备", "kind.pipe": "管线",
        "kind.network_node": "管网节点", "kind.road": "道路", "kind.path": "步道", "kind.parking": "停车场",
        "kind.parking_space": "车位", "kind.green": "绿地", "kind.water": "水体", "kind.boundary": "园区边界",
        "kind.gate": "出入口", "kind.assembly_point": "应急集合点",
        # viewer: navigation, layers, search
        "whole_park": "整个园区", "all_storeys": "全部楼层", "building": "建筑", "storey": "楼层",
        "drill_down": "楼宇导航", "view_modes": "视图", "layers": "图层",
        "xray": "透视（X 光）", "exploded": "楼层分解", "ground_translucent": "地面半透明（看地下）",
        "section": "水平剖切高度 (m)", "measure": "测距", "distance": "距离",
        "measure_first": "点击第一个点", "measure_second": "点击第二个点",
        "search_hint": "搜索编码、名称、类型或房间…", "fullscreen": "全屏", "other_language": "English",
        "node_unknown": "链接中的 node={id}：园区中没有该对象。",
        "layer.spaces": "房间", "layer.walls": "墙体", "layer.windows": "窗", "layer.doors": "门",
        "layer.slabs": "楼板与屋面", "layer.stairs": "楼梯", "layer.transport": "电梯",
        "layer.structure": "结构", "layer.mep": "机电设备", "layer.furniture": "家具", "layer.site": "场地",
        "layer.other": "其他构件", "layer.ground": "地面", "layer.buildings": "建筑体块",
        "layer.roads": "道路", "layer.paths": "步道", "layer.parking": "停车场", "layer.parking_spaces": "车位",
        "layer.green": "绿地", "layer.water": "水体", "layer.boundary": "园区边界", "layer.gates": "出入口",
        "layer.assembly_points": "应急集合点", "layer.underground": "地下管网", "layer.devices": "设备",
        "layer.labels": "标签",
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
        "code": "Code",
        "type_name": "Type",
        "position": "Position (WGS84)",
        "lat.N": "{deg}° N", "lat.S": "{deg}° S", "lon.E": "{deg}° E", "lon.W": "{deg}° W",
        "height": "{m} m",
        "loading": "Loading geometry",
        "load_failed": "Geometry failed to load",
        "north": "N",
        "tour.title": "Tours", "tour.choose": "Tour", "tour.play": "Play", "tour.pause": "Pause",
        "tour.next": "Next stop", "tour.loop": "Loop", "tour.none": "This park has no tours.",
        "tour.stop_of": "Stop {n} of {total}",
        "kind.park": "Park", "kind.site": "Site", "kind.building": "Building", "kind.storey": "Storey",
        "kind.space": "Space", "kind.element": "Element", "kind.device": "Device", "kind.pipe": "Pipe",
        "kind.network_node": "Network node", "kind.road": "Road", "kind.path": "Path", "kind.parking": "Car park",
        "kind.parking_space": "Parking space", "kind.green": "Green", "kind.water": "Water", "kind.boundary": "Boundary",
        "kind.gate": "Gate", "kind.assembly_point": "Assembly point",
        # viewer: navigation, layers, search
        "whole_park": "Whole park", "all_storeys": "All storeys", "building": "Building", "storey": "Storey",
        "drill_down": "Buildings", "view_modes": "View", "layers": "Layers",
        "xray": "X-ray", "exploded": "Exploded storeys", "ground_translucent": "See-through ground",
        "section": "Horizontal section height (m)", "measure": "Measure", "distance": "Distance",
        "measure_first": "Click the first point", "measure_second": "Click the second point",
        "search_hint": "Search code, name, type or room…", "fullscreen": "Full screen", "other_language": "中文",
        "node_unknown": "node={id} in the link: there is no such object in the park.",
        "layer.spaces": "Rooms", "layer.walls": "Walls", "layer.windows": "Windows", "layer.doors": "Doors",
        "layer.slabs": "Slabs and roofs", "layer.stairs": "Stairs", "layer.transport": "Lifts",
        "layer.structure": "Structure", "layer.mep": "MEP", "layer.furniture": "Furniture", "layer.site": "Site",
        "layer.other": "Other elements", "layer.ground": "Ground", "layer.buildings": "Building blocks",
        "layer.roads": "Roads", "layer.paths": "Paths", "layer.parking": "Car parks",
        "layer.parking_spaces": "Parking spaces", "layer.green": "Green", "layer.water": "Water",
        "layer.boundary": "Boundary", "layer.gates": "Gates", "layer.assembly_points": "Assembly points",
        "layer.underground": "Underground networks", "layer.devices": "Devices", "layer.labels": "Labels",
    },
}


def t(key: str, lang: str = LANGUAGES[0]) -> str:
    """The label for ``key`` in ``lang``, falling back to the other language, then to the key."""
    for code in (lang, *LANGUAGES):
        if key in MESSAGES.get(code, {}):
            return MESSAGES[code][key]
    return key
