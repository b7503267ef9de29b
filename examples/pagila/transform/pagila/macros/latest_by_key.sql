{#
    The latest version of each key of a bronze table, with every column of the table plus
    `_dk_row_number` (always 1). Bronze may hold the same key from several loads (append loads, a key
    re-read after a change): the row of the latest load wins (`_dk_load_id`: load ids grow), then the latest of
    `order_by` (the source's own change time), then the highest record hash, so the choice is
    deterministic. Callers list the columns they keep: nothing depends on the order of bronze columns.
#}
{% macro latest_by_key(relation, key, order_by=['last_update']) -%}
    select *
    from (
        select
            _bronze.*,
            row_number() over (
                partition by {{ key | join(', ') }}
                order by
                    _dk_load_id desc
                    {%- for column in order_by %},
                    {{ column }} desc nulls last
                    {%- endfor %},
                    _dk_record_hash desc
            ) as _dk_row_number
        from {{ relation }} as _bronze
    ) as _ranked
    where _dk_row_number = 1
{%- endmacro %}
