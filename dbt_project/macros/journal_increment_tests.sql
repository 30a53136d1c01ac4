-- noqa: disable=LT02
{#- Tests in a journal increment (macros/journal_increment.sql). An incremental model holds
    the rows earlier builds made, which passed their tests then, and the rows this build
    inserted for the touched keys. So in an increment a test that checks rows one at a time
    (not_null, accepted_values) checks the touched rows, and `unique` checks every row that
    shares its value with a touched row (a duplicate needs at least one new row): the same
    verdict as over the whole table, at the cost of the change. relationships and the
    singular tests read everything, as in a full build (a deleted parent can orphan
    untouched rows). Models and sources declare their touched keys in
    meta.journal_increment; a full build (--full-refresh) tests every row.

    dbt calls get_where_subquery for every generic test; this version adds the scope to
    the test's own `where`, if it has one. -#}
{% macro get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- do conditions.append(where) -%}
    {%- endif -%}
    {%- set scope = journal_increment_test_scope(relation) -%}
    {%- if scope -%}
        {%- do conditions.append(scope) -%}
    {%- endif -%}
    {%- if not conditions -%}
        {%- do return(relation) -%}
    {%- endif -%}
    {%- set filtered -%}
        (select * from {{ relation }} where ({{ conditions | join(') and (') }})) as dbt_subquery
    {%- endset -%}
    {%- do return(filtered) -%}
{%- endmacro %}

{% macro journal_increment_test_scope(relation) -%}
    {%- set scoped = ('unique', 'not_null', 'accepted_values') -%}
    {%- if flags.FULL_REFRESH or not execute or not model.test_metadata
        or model.test_metadata.name not in scoped -%}
        {%- do return('') -%}
    {%- endif -%}
    {%- set tested = model.attached_node or (model.depends_on.nodes | first) -%}
    {%- set node = graph.nodes.get(tested) or graph.sources.get(tested) -%}
    {%- set spec = none -%}
    {%- if node -%}
        {%- set spec = (node.config.meta or {}).get('journal_increment')
            or (node.meta or {}).get('journal_increment') -%}
    {%- endif -%}
    {%- if not spec -%}
        {%- do return('') -%}
    {%- endif -%}
    {%- set touched = journal_touched(spec.kinds, spec.touched_by, by_name=true) -%}
    {%- if model.test_metadata.name == 'unique' -%}
        {%- set column = model.test_metadata.kwargs.column_name -%}
        {%- do return(column ~ ' in (select ' ~ column ~ ' from ' ~ relation
            ~ ' where ' ~ touched ~ ')') -%}
    {%- endif -%}
    {%- do return(touched) -%}
{%- endmacro %}
