-- Match each live CRM company to a finance customer: first by the ERP customer number sales
-- typed in, then by normalised VAT id (only when exactly one customer has it). A customer
-- claimed by two companies goes to the better match (ERP number first, then lowest id);
-- everything unmatched says why.
with

companies as (
    select * from {{ ref('stg_crm__companies') }}
    where not is_archived
),

customers as (
    select
        customer_number,
        vat_id_normalized
    from {{ ref('stg_legacy__customers') }}
),

vat_keys as (
    select
        vat_id_normalized,
        min(customer_number) as customer_number,
        count(*) as customers_with_vat_id
    from customers
    where vat_id_normalized is not null
    group by vat_id_normalized
),

candidates as (
    select
        companies.company_id,
        companies.erp_customer_number,
        companies.vat_id_normalized,
        vat_keys.customers_with_vat_id,
        by_erp.customer_number as erp_match,
        case
            when vat_keys.customers_with_vat_id = 1 then vat_keys.customer_number
        end as vat_match
    from companies
    left join customers as by_erp
        on companies.erp_customer_number = by_erp.customer_number
    left join vat_keys
        on companies.vat_id_normalized = vat_keys.vat_id_normalized
),

proposed as (
    select
        company_id,
        erp_customer_number,
        vat_id_normalized,
        customers_with_vat_id,
        coalesce(erp_match, vat_match) as customer_number,
        case
            when erp_match is not null then 'erp_customer_number'
            when vat_match is not null then 'vat_id'
        end as match_method
    from candidates
),

ranked as (
    select
        *,
        row_number() over (
            partition by customer_number
            order by match_method = 'erp_customer_number' desc, company_id
        ) as claim_rank
    from proposed
),

final as (
    select
        company_id,
        case when claim_rank = 1 then customer_number end as customer_number,
        case when claim_rank = 1 then match_method end as match_method,
        case
            when customer_number is not null and claim_rank = 1 then null
            when customer_number is not null then 'customer_already_matched'
            when customers_with_vat_id > 1 then 'ambiguous_vat_id'
            when erp_customer_number is not null and vat_id_normalized is not null
                then 'erp_customer_number_and_vat_id_not_found'
            when erp_customer_number is not null then 'erp_customer_number_not_found'
            when vat_id_normalized is not null then 'vat_id_not_found'
            else 'no_matching_key'
        end as unmatched_reason
    from ranked
)

select * from final
